"""The SMPP 3.4 carrier connector: binds to an SMSC, submits, matches receipts, receives MO.

``config`` parses the ``smpp://`` carrier URL, ``text`` encodes and splits bodies,
``receipts`` reads delivery receipts, ``statuses`` maps command_status to Twilio errors,
``session`` is one bound connection, and ``connector`` keeps binds up and implements the
Connector protocol (smsgate.connectors.base).
"""
