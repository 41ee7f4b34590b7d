"""The ``email`` add-on (roost.mail does the work)."""
