"""What notify builds once per process from its settings: keys, channel senders, the catalogue, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from servicekit.crypto import FieldCipher
from servicekit.db import utcnow
from servicekit.safe_http import REAL_NETWORK, Network

from notify import catalogue as catalogue_module
from notify.catalogue import Catalogue
from notify.channels import SmsSender, SmtpMailer, sms_sender
from notify.config import NotifySettings


@dataclass
class Components:
    settings: NotifySettings
    catalogue: Catalogue
    # Opens what applicant sealed in ContactUpdated (the platform's shared contact keyring).
    contact_cipher: FieldCipher
    # Notify's own keyring, with a different associated data per kind of value, so one cannot stand in for another.
    contact_store: FieldCipher
    secret_store: FieldCipher
    sms: SmsSender
    mailer: SmtpMailer | None
    clock: Callable[[], datetime] = field(default=utcnow)
    # How partners' webhook hosts are reached (resolver, connections, TLS roots): when they subscribe and for
    # each delivery's connection. Tests stand in a loopback-only one.
    network: Network = field(default=REAL_NETWORK)

    @classmethod
    def from_settings(cls, settings: NotifySettings) -> Components:
        store_keys = settings.store_keys.get_secret_value()
        return cls(
            settings=settings,
            catalogue=catalogue_module.load(),
            contact_cipher=FieldCipher.from_spec(settings.contact_keys.get_secret_value(), associated_data=b"contact"),
            contact_store=FieldCipher.from_spec(store_keys, associated_data=b"notify-contact"),
            secret_store=FieldCipher.from_spec(store_keys, associated_data=b"notify-partner-secret"),
            sms=sms_sender(settings),
            mailer=SmtpMailer(settings) if settings.email_enabled else None,
        )
