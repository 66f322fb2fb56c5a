"""SMPP 3.4 on the wire, shared by the carrier connector (``connectors.smpp``) and the
SMSC simulator (``smsc``). The PDU codec is smpplib's; this package adds only framing and
a typed face over it."""
