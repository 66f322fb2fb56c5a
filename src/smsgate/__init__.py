"""smsgate: a self-hosted SMS gateway that speaks Twilio's Programmable Messaging API."""

__version__ = "0.1.0"
