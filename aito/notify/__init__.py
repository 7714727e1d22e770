"""Notifications: telling humans when something needs them.

:mod:`aito.notify.base` holds the :class:`~aito.notify.base.Notification` and the
:class:`~aito.notify.base.Notifier` port; one module per channel kind (``email``,
``webhook``, ``telegram``); :mod:`aito.notify.fanout` builds the channels configured in
`org/org.yaml` (`notify:`) and sends one notification on each. Deduplication by
(subject, cause) is the caller's (the orchestrator's keyed apply step):
:meth:`~aito.notify.base.Notification.key` names a notification for it.
"""
