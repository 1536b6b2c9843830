"""The write path, as named stages: policy -> consent -> audit intent -> send -> interpret -> audit outcome.

`pipeline.run_write` reads top to bottom; each stage has its own module:

    call.py      WriteCall: one write tool call and what every stage may use
    policy.py    exposure and guardrails: may this write happen at all?
    consent.py   Consent: has a human agreed? (elicitation, out-of-band approval, token, off)
    send.py      the request, sent once through the shared client, and its answer read
    pipeline.py  the stages wired together, with the audit log written around the send
"""
