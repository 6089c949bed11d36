package org.accord.example;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An agency system talking to its own accord node: no Kafka, no signing key, no JSON library.
 *
 * <pre>
 *   ACCORD_URL=http://127.0.0.1:8443 ACCORD_TOKEN=acc_... java -jar accord-client.jar publish
 *   ACCORD_URL=... ACCORD_TOKEN=... java -jar accord-client.jar inbox MESSAGE_ID
 * </pre>
 *
 * publish prints the new message id; inbox long-polls until that message has landed and
 * prints it in full. Errors are RFC 9457 problem details; their "code" is accord's.
 */
public final class AccordClient {
    private static final Pattern MESSAGE_ID = Pattern.compile("\"message_id\":\"([0-9a-f-]{36})\"");
    private static final Pattern NEXT = Pattern.compile("\"next_cursor\":\"([A-Za-z0-9_-]+)\"");

    private final HttpClient http = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;
    private final String token;

    AccordClient(String base, String token) {
        this.base = base;
        this.token = token;
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path))
                .header("Authorization", "Bearer " + token)
                .timeout(Duration.ofSeconds(60));
    }

    private String send(HttpRequest request, int expected) throws Exception {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != expected) {
            throw new IllegalStateException(response.statusCode() + " " + response.body());
        }
        return response.body();
    }

    /** Publish one information report; a retry with the same key would publish it once. */
    String publish(String title) throws Exception {
        String json = "{\"type\":\"accord.information-report.v1\",\"scope\":\"bilateral\","
                + "\"area\":\"counter-proliferation\",\"body\":{\"title\":\"" + title + "\","
                + "\"priority\":\"routine\",\"details\":\"Sent from the Java case system.\","
                + "\"region\":\"South-East Asia\"}}";
        HttpRequest post = request("/v1/messages")
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", UUID.randomUUID().toString())
                .POST(HttpRequest.BodyPublishers.ofString(json)).build();
        return find(MESSAGE_ID, send(post, 201));
    }

    /** Long-poll the inbox page by page until messageId has landed; return it in full. */
    String awaitMessage(String messageId) throws Exception {
        String cursor = "";
        for (int polls = 0; polls < 12; polls++) {
            String page = send(request("/v1/inbox?wait=5&limit=500"
                    + (cursor.isEmpty() ? "" : "&after=" + cursor)).GET().build(), 200);
            if (page.contains("\"message_id\":\"" + messageId + "\"")) {
                return send(request("/v1/inbox/" + messageId).GET().build(), 200);
            }
            Matcher next = NEXT.matcher(page);
            if (next.find()) {
                cursor = next.group(1);
            }
        }
        throw new IllegalStateException("message " + messageId + " did not land");
    }

    private static String find(Pattern pattern, String text) {
        Matcher m = pattern.matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("unexpected answer: " + text);
        }
        return m.group(1);
    }

    public static void main(String[] args) throws Exception {
        AccordClient client = new AccordClient(System.getenv("ACCORD_URL"), System.getenv("ACCORD_TOKEN"));
        try {
            if (args.length == 1 && args[0].equals("publish")) {
                System.out.println(client.publish("Report from the Java client"));
            } else if (args.length == 2 && args[0].equals("inbox")) {
                System.out.println(client.awaitMessage(args[1]));
            } else {
                System.err.println("usage: publish | inbox MESSAGE_ID");
                System.exit(2);
            }
        } catch (IllegalStateException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(1);
        }
    }
}
