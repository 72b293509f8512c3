"""Embedded Mosquitto keeps persistence on: a QoS 1 message queued for an offline persistent session
survives a SIGKILL of the broker and a restart on the same port."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from warnengine.embedded.brokers import EmbeddedBrokers, mosquitto_binary, wait_port


def client(client_id: str) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)


def session_props() -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    return props


@pytest.mark.skipif(mosquitto_binary() is None, reason="Mosquitto not installed")
def test_queued_qos1_survives_a_broker_restart(tmp_path: Path) -> None:
    brokers = EmbeddedBrokers(tmp_path)
    brokers.start()
    try:
        assert brokers.mqtt_kind == "mosquitto"
        port = brokers.mqtt_port
        terminal = client("terminal-1")
        terminal.connect("127.0.0.1", port, clean_start=False, properties=session_props())
        terminal.loop_start()
        terminal.subscribe("cmd/terminal-1", qos=1)
        time.sleep(0.5)
        terminal.disconnect()
        terminal.loop_stop()

        sender = client("sender")
        sender.connect("127.0.0.1", port)
        sender.loop_start()
        sender.publish("cmd/terminal-1", b"play", qos=1).wait_for_publish(5)
        sender.disconnect()
        sender.loop_stop()
        time.sleep(2.5)  # autosave_interval 1

        brokers.procs[1].send_signal(signal.SIGKILL)
        brokers.procs[1].wait()
        brokers.procs[1] = brokers.start_mqtt()
        wait_port(port, proc=brokers.procs[1])

        got: list[bytes] = []
        arrived = threading.Event()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            got.append(bytes(msg.payload))
            arrived.set()

        terminal = client("terminal-1")
        terminal.on_message = on_message
        terminal.connect("127.0.0.1", port, clean_start=False, properties=session_props())
        terminal.loop_start()
        try:
            assert arrived.wait(10), "the queued command did not survive the restart"
        finally:
            terminal.disconnect()
            terminal.loop_stop()
        assert got == [b"play"]
    finally:
        brokers.stop()
