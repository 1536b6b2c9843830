"""Out-of-band approval: a human approves a write outside the conversation, where the model cannot.

store.py    pending approvals and grants behind one small interface (in memory; Redis in state/)
sessions.py the page's launch codes, sessions and sealed passwords, in the state backend
pin.py      the approver PIN: a slow hash, attempts rate-limited
page.py     the approval page (HTML forms, no JavaScript) and the local API the CLI uses
notify.py   how the link reaches the human: the browser, a webhook
service.py  the above wired together, with the listeners that serve the page and the CLI
"""
