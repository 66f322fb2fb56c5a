"""``smsgate smsc-sim``: an SMPP 3.4 SMSC on loopback, to exercise the real SMPP connector.

``core`` holds the sessions and what the SMSC does (binds, submits, receipts, MO); ``text``
its own independent text coding; ``behaviour`` the knobs; ``control`` the HTTP control API;
``app`` runs both servers. See docs/smsc-sim.md.
"""
