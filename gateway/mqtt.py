"""The gateway's broker link is the shared one (:mod:`runtime.mqtt`); these names stay here."""

from runtime.mqtt import NO_MATCHING_SUBSCRIBERS, BrokerLink, BrokerSettings, LinkEvents, Sent

__all__ = ["NO_MATCHING_SUBSCRIBERS", "BrokerLink", "BrokerSettings", "LinkEvents", "Sent"]
