"""DNS as code: zones and records in the store, octoDNS providers (Route53, PowerDNS) as
targets, plan then apply with octoDNS's safety thresholds, ownership TXT records so only
Roost's own records change, drift checks, and the records that point custom domains at the
router.

For other add-ons: :func:`roost.dns.service.ensure_records` makes a list of records the
records of one owner in a managed zone and applies the zone.
"""
