"""Personal data kept with care (issue 18): the privacy notice, consent records, retention and
its purge, a person's export and erasure. The top of the layers (beside reports): it may read and
change every lower module's rows; no lower module imports it."""
