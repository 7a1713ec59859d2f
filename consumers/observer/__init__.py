"""The observer: turns external change feeds into ExternalStateObserved records."""
