"""Delivery channels for dunning messages: pluggable by name.

Email is real (Django's email backend, configured by `EMAIL_URL`). SMS and WeCom are channel classes
that today only write to the delivery log (the message's status becomes "logged"); a provider is
plugged in by registering a class with the same name whose `send()` calls it.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

logger = logging.getLogger("kehu.delivery")


@dataclass
class Outgoing:
    """One message, rendered: what a channel needs to deliver it."""

    recipient: str
    subject: str
    text: str
    html: str = ""
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)


class Bounced(Exception):
    """The recipient was refused: retrying will not help, a collector must look at it."""


class DeliveryChannel(Protocol):
    name: str
    # False when the channel only records the message (no provider yet): status "logged".
    delivers: bool

    def recipient_for(self, *, email: str, phone: str) -> str: ...

    def send(self, outgoing: Outgoing) -> None:
        """Deliver or raise: Bounced for a refused recipient, any other exception to retry."""


class EmailChannel:
    name = "email"
    delivers = True

    def recipient_for(self, *, email: str, phone: str) -> str:
        return email

    def send(self, outgoing: Outgoing) -> None:
        message = EmailMultiAlternatives(
            outgoing.subject, outgoing.text, settings.DEFAULT_FROM_EMAIL, [outgoing.recipient]
        )
        if outgoing.html:
            message.attach_alternative(outgoing.html, "text/html")
        for filename, content, mimetype in outgoing.attachments:
            message.attach(filename, content, mimetype)
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise Bounced(str(exc)) from exc


class LogOnlyChannel:
    """A channel with no provider yet: the message is kept in the delivery log, nothing is sent."""

    name = ""
    delivers = False

    def recipient_for(self, *, email: str, phone: str) -> str:
        return phone

    def send(self, outgoing: Outgoing) -> None:
        logger.info("%s to %s (no provider): %s", self.name, outgoing.recipient, outgoing.subject)


class SmsChannel(LogOnlyChannel):
    name = "sms"


class WeComChannel(LogOnlyChannel):
    name = "wecom"


CHANNELS: dict[str, DeliveryChannel] = {}


def register_channel(channel: DeliveryChannel) -> None:
    CHANNELS[channel.name] = channel


def channel_for(name: str) -> DeliveryChannel:
    return CHANNELS[name]


for _channel in (EmailChannel(), SmsChannel(), WeComChannel()):
    register_channel(_channel)
