"""The 2010-04-01 Compatibility API shape (SignalWire's LaML API, and Twilio's): models and operations declared once,
instantiated per provider (`operations.compatibility_operations`). See docs/signalwire-compatibility.md."""
