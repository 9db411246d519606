"""Helpers for the MQTT tests: a real mosquitto broker, a recording Core, an MQTT watcher."""
