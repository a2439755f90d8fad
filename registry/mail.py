"""Mail sent after a commit, where a mail server that refuses must not undo or fail what was saved.

A handover proposal or an attestation reminder is recorded first; the mail only tells people. When
the mail server is away the record stands, the page says it was done, and the failure is logged for
operators (Django's ``fail_silently`` hid it altogether, and is deprecated).
"""

import logging

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


def send_after_commit(subject: str, message: str, recipient: str) -> bool:
    """Send one plain mail; False (and a logged warning) when the mail server refused it."""
    try:
        send_mail(subject, message, settings.DEFAULT_FROM_EMAIL, [recipient])
    except Exception:  # noqa: BLE001 (any transport failure: the record is already committed)
        logger.warning("could not send %r to %s", subject, recipient, exc_info=True)
        return False
    return True
