"""The example of docs/integration.md, verbatim: an agency's own integration test.

With accord installed, the ``accord`` pytest plugin is active: no conftest.py is
needed for the fixtures below (this suite's conftest only makes the plugin share
its broker with the other tests).
"""


def test_our_case_system_report_reaches_japan(accord_node):
    dfat = accord_node("AUS.DFAT")  # a real node process with its HTTP API
    mofa = accord_node("JPN.MOFA")

    sent = dfat.post(
        "/v1/messages",
        {
            "type": "accord.information-report.v1",
            "scope": "bilateral",
            "area": "counter-proliferation",
            "body": {
                "title": "Dual-use export enquiry",
                "priority": "priority",
                "details": "An enquiry matching the watch list, from our case system.",
                "region": "North-East Asia",
            },
        },
        idempotency_key="case-4711",
    )
    assert sent.status == 201

    landed = mofa.wait_for_message(sent.json["message_id"])  # signed, sent, verified, landed
    assert landed["sender"] == "AUS.DFAT"
