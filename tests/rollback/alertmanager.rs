//! A private Alertmanager per test: placeholder replaced below.
