"""The demo's console report: one row per agency, then the checks in plain words."""

from __future__ import annotations

import json
from collections import Counter

from accord.demo.run import DemoResult
from accord.parties import Country, Scope, country_of


def _codes(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "-"


def render(result: DemoResult) -> list[str]:
    lines = [
        "",
        f"accord demo: {len(result.sent)} messages published, "
        f"{len(result.injected)} raw records injected ({result.mode} broker)",
        "",
    ]
    sent = Counter(s.sender for s in result.sent)
    header = (
        f"{'agency':<12} {'sent':>4} {'delivered':>9} {'expected':>8} {'dup':>4} "
        f"{'gaps':>4}  rejected (reason code x count)"
    )
    lines += [header, "-" * len(header)]
    for agency, o in result.agencies.items():
        lines.append(
            f"{agency:<12} {sent[agency]:>4} {o.delivered:>9} {len(o.expected_ids):>8} "
            f"{o.duplicates:>4} {o.gaps:>4}  {_codes(o.rejected)}"
        )
    lines.append("")
    for r in result.injected:
        what = r.expected.value if r.expected else "counted as a duplicate, not re-delivered"
        lines.append(f"injected {r.name:<11} -> {what}: {r.description}")
    quarantined = sum(sum(o.quarantined.values()) for o in result.agencies.values())
    lines.append(
        f"quarantine topics hold {quarantined} records, each with its reason code "
        "(read back as each agency)"
    )

    usa = {a: o for a, o in result.agencies.items() if country_of(a) is Country.USA}
    bilateral = {a: o.inbox_scopes.get(Scope.BILATERAL.value, 0) for a, o in usa.items()}
    held = ", ".join(f"{a} {sum(o.inbox_scopes.values())}" for a, o in usa.items())
    release = result.released
    got_release = all(release.message_id in o.inbox_ids for o in usa.values())
    if not any(bilateral.values()):
        lines.append(
            f"USA received nothing bilateral: every message in the USA inboxes "
            f"({held}) is trilateral"
            + (f"; the release of '{release.title}' arrived" if got_release else "")
        )
    else:
        lines.append(f"USA HOLDS BILATERAL MESSAGES: {_codes(bilateral)}")

    if result.encryption:
        modes = ", ".join(f"{scope} {mode}" for scope, mode in sorted(result.encryption.items()))
        # An envelope v2 payload is the unencoded JSON with the body as ciphertext
        # (SPEC 11.1); a v1 payload is base64url and starts with anything but "{".
        sealed = sum(json.loads(s.envelope)["payload"].startswith("{") for s in result.sent)
        lines.append(
            f"encryption ({modes}): {sealed} of {len(result.sent)} published bodies "
            "encrypted to their entitled agencies only (envelope v2)"
        )
    if result.encryption_line is not None:
        lines.append(result.encryption_line)

    m = result.monitor
    if m.outstanding:
        lines.append(
            f"monitor: {len(m.outstanding)} messages not acknowledged by every "
            f"entitled agency within {m.deadline_s:.0f}s:"
        )
        lines += [
            f"  {x.message_id} from {x.sender} ({x.scope}/{x.area}): missing {', '.join(x.missing)}"
            for x in m.outstanding
        ]
    else:
        lines.append(
            f"monitor: {m.messages} messages, {m.acknowledgements} delivery "
            f"acknowledgements in verified receipts, {m.forged} forged; no entitled "
            f"agency outstanding past the {m.deadline_s:.0f}s acknowledgement deadline"
        )
    lines.append("")
    if result.ok:
        lines.append(f"outcome: as expected ({result.seconds:.1f}s)")
    else:
        lines.append(f"outcome: DIFFERS from the expected ({len(result.problems)} problems):")
        lines += [f"  - {p}" for p in result.problems]
    return lines
