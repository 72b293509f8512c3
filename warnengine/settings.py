"""Settings from `WARNENGINE_*` environment variables. No URLs set means the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warnengine.transport.security import MqttSecurity


class Settings(BaseSettings):
    # hide_input_in_errors: a rejected value (an MQTT URL with a password in it) is not echoed back.
    model_config = SettingsConfigDict(env_prefix="WARNENGINE_", extra="ignore", hide_input_in_errors=True)

    data_dir: Path = Path("var")
    county_dir: Path = Path("config/county")
    # Region of phone numbers written without a country code in the directory (ISO 3166, phonenumbers).
    phone_region: str = "CN"
    # The county's time zone (IANA): roster times without an offset, `duty now`, reports.
    time_zone: str = "Asia/Shanghai"

    # Unset URLs: `warnengine up` starts the embedded broker / MQTT broker / SQLite and fills them in.
    kafka_url: str | None = Field(default=None, description="kafka://host:port[;host:port]")
    mqtt_url: str | None = Field(default=None, description="mqtt://host:port, mqtts://[user@]host:port (TLS)")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL, async driver")
    mqtt_protocol: int = Field(default=5, description="5 (Mosquitto, EMQX) or 4 (MQTT 3.1.1, amqtt)")
    # Off by default: Mosquitto keeps routing a share's messages to a dead member's persistent session
    # (eclipse/mosquitto#1747), so acks would wait for that worker to return. Every worker receiving
    # every ack costs N x ack traffic, all idempotent. Turn on only where the broker reassigns a dead member's
    # share (check: tests/integration/test_two_workers.py with WARNENGINE_MQTT_SHARED_SUBSCRIPTIONS=true).
    mqtt_shared_subscriptions: bool = False
    # The engine's own MQTT login and TLS (mqtt_security()). TLS always checks the broker's host name.
    mqtt_tls: bool = False  # also on with an mqtts:// URL
    mqtt_ca_file: Path | None = None  # CA of the broker's certificate; unset: the system's CA bundle
    mqtt_cert_file: Path | None = None  # client certificate (mutual TLS), optional
    mqtt_key_file: Path | None = None
    mqtt_username: str | None = None  # or the user in the URL: mqtts://warnengine@broker:8883
    mqtt_password: SecretStr | None = None
    mqtt_password_file: Path | None = None  # read when a client is made (a mounted Secret); one line
    embedded_kafka_port: int = 9092  # used when free; else any free port (printed by `up`)
    embedded_mqtt_port: int = 1883
    embedded_mqtt: str = Field(
        default="auto",
        pattern="^(auto|mosquitto|amqtt)$",
        description="embedded MQTT broker: Mosquitto when installed, else amqtt",
    )

    trust_file: Path | None = Path("config/trust.yaml")  # senders whose XML signatures are verified
    meteo_signals_file: Path = Path("config/feeds/meteo_signals.yaml")
    max_feed_bytes: int = 4 * 1024 * 1024  # larger feed messages are dead-lettered unread
    # The producer's request limit and the consumer's per-partition fetch size: a feed message the
    # engine accepts (max_feed_bytes) must be consumable, and fit a request. Checked at worker start
    # (warnengine.pipeline.limits); the engine's own records stay far below it (dead letters: 4 KiB).
    kafka_max_message_bytes: int = 5 * 1024 * 1024
    policy_file: Path = Path("config/policy.yaml")  # hazard × severity → recipients, channels, ladder
    channels_file: Path = Path("config/channels.yaml")  # SMS / WeChat / app providers (docs/channels.md)
    escalate_interval_s: float = 15.0  # how often the leader runs the escalation ladder (engine clock)

    app_id: str = "warnengine"
    # What a worker runs (docs/operations.md, "Process roles"): "all"; or "dispatch" (feeds → plan →
    # commands, the reconciler and escalation) and "acks" (the MQTT ack and status bridges, every ack
    # stream) in separate processes, so a fan-out is not slowed by its own acknowledgements. Each role
    # is its own Kafka consumer group: run "all" workers, or "dispatch" and "acks" workers, not a mix.
    worker_role: Literal["all", "dispatch", "acks"] = "all"
    worker_id: str | None = None  # stable per worker slot: MQTT sessions (queued acks) survive a restart
    topic_partitions: int = 8
    session_timeout_s: float = 6.0
    # Kafka long poll. Tansu always waits it out, so it bounds each hop; lower burns CPU on empty polls
    # (20 ms: 1,555-terminal broadcast p99 4.8 s; 50 ms: 4.1 s; 100 ms: 4.5 s, and slower hops).
    fetch_max_wait_ms: int = Field(default=50, description="Kafka long-poll wait")
    dispatch_batch: int = 200  # village tasks (or ack batches) one worker handles per database round trip
    batch_window_s: float = 0.02
    web_port: int = 6066
    web_host: str = "127.0.0.1"

    signing_key_file: Path | None = None  # default: <data_dir>/keys/engine.key
    # SM2 key for terminals registered with sig_alg sm2-sm3 (devices.csv); created on first use.
    sm2_signing_key_file: Path | None = None  # default: <data_dir>/keys/engine.sm2.key
    command_ttl_s: float = 6 * 3600  # loudspeaker command lifetime when a warning names no expiry
    resend_after_s: float = 30.0  # re-send a command that no terminal has acknowledged by then
    max_attempts: int = 10
    # One signed command per whole cell (county, township, village) on its group topic; false: one per
    # terminal, as before (a broker whose ACL does not yet let terminals read their group topics).
    group_commands: bool = True
    reconcile_interval_s: float = 5.0
    reconcile_grace_s: float = 10.0  # a stage unfinished for this long is re-emitted
    clock_speed: float = Field(default=1.0, gt=0)
    # The wall time scaled engine time starts from; `up` and `demo` give every process of the stack the
    # same one, so workers, API and terminals agree on the time (unset: each process's own start).
    clock_epoch: float | None = None
    # Simulated providers (design decision 22): with no real SMS/voice/WeChat/app credentials, a worker
    # sends people's messages to a simulated population (`sim_scenario`) that answers on the engine clock.
    # `up` turns it on for the embedded default; real credentials always win (it is then off).
    simulated_providers: bool = False
    sim_scenario: Path = Path("config/scenarios/embedded.yaml")

    # The county's emergency-broadcast platform (docs/eb-platform.md): terminals registered `provider: eb`
    # in devices.csv are reached through it. Packages are signed with the engine's SM2 key (sm2_key_file).
    eb_platform_url: str | None = None  # the platform's package endpoint; unset: no EB provider
    eb_src_ebrid: str | None = Field(default=None, pattern=r"^\d{23}$")  # our resource code (EBRID)
    eb_dest_ebrid: str | None = Field(default=None, pattern=r"^\d{23}$")  # the platform's EBRID
    eb_sender_name: str = "县应急管理局"  # MsgBasicInfo/SenderName
    eb_sender_code: str | None = None  # MsgBasicInfo/SenderCode; default: eb_src_ebrid
    eb_cert_issuer: str = "000000000000"  # IssuerID and CertSN of our certificate (signature document)
    eb_cert_sn: str = "000000000000"
    eb_platform_public_key_file: Path | None = None  # SM2 public key (PEM or hex) the platform signs with
    eb_platform_cert_sn: str | None = None  # when set, the platform's packages must name this serial
    eb_report_url: str | None = None  # SRC/URL: where the platform posts its reports (our webhook)
    eb_timeout_s: float = 10.0
    eb_attempts: int = 3  # tries per package, exponential backoff between them
    eb_heartbeat_s: float = 60.0  # ConnectionCheck interval

    def group_id(self) -> str:
        """The Faust app id, hence the Kafka consumer group, of this worker's role."""
        return self.app_id if self.worker_role == "all" else f"{self.app_id}-{self.worker_role}"

    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'warnengine.db').resolve()}"

    def key_file(self) -> Path:
        return self.signing_key_file or self.data_dir / "keys" / "engine.key"

    def sm2_key_file(self) -> Path:
        return self.sm2_signing_key_file or self.data_dir / "keys" / "engine.sm2.key"

    def kafka_bootstrap(self) -> str:
        """aiokafka's bootstrap string from the Faust-style URL."""
        if not self.kafka_url:
            raise RuntimeError(
                "WARNENGINE_KAFKA_URL is not set (run `warnengine up` for the embedded broker)"
            )
        return ",".join(u.removeprefix("kafka://") for u in self.kafka_url.split(";"))

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Asia/Shanghai)") from e
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _no_password_in_mqtt_url(cls, v: str | None) -> str | None:
        if v is not None:
            scheme, sep, rest = v.partition("://")
            if sep and scheme not in ("mqtt", "mqtts"):
                raise ValueError("the MQTT URL must start mqtt:// or mqtts://")
            if ":" in rest.rpartition("@")[0]:  # logged at start, so it must hold no secret
                raise ValueError("put the MQTT password in WARNENGINE_MQTT_PASSWORD(_FILE), not in the URL")
        return v

    def mqtt_host_port(self) -> tuple[str, int]:
        if not self.mqtt_url:
            raise RuntimeError("WARNENGINE_MQTT_URL is not set (run `warnengine up` for the embedded broker)")
        tls = self.mqtt_url.startswith("mqtts://")
        rest = self.mqtt_url.removeprefix("mqtts://").removeprefix("mqtt://").rpartition("@")[2]
        host, colon, port = rest.rpartition(":")
        if not colon:
            host, port = rest, ""
        return host or "127.0.0.1", int(port or (8883 if tls else 1883))

    def mqtt_security(self) -> MqttSecurity:
        """The engine's MQTT TLS and login, for every client it makes (channel, ack and status listeners).
        Reads WARNENGINE_MQTT_PASSWORD_FILE now, so a rotated Secret applies at the next (re)start."""
        url = self.mqtt_url or ""
        parts = urlsplit(url) if "://" in url else None
        url_user = parts.username if parts else None
        if url_user and self.mqtt_username and url_user != self.mqtt_username:
            raise ValueError("WARNENGINE_MQTT_USERNAME and the user in WARNENGINE_MQTT_URL differ")
        password = self.mqtt_password
        if password is None and self.mqtt_password_file is not None:
            password = SecretStr(self.mqtt_password_file.read_text().strip("\r\n"))
        return MqttSecurity(
            tls=self.mqtt_tls or url.startswith("mqtts://"),
            ca_file=self.mqtt_ca_file,
            cert_file=self.mqtt_cert_file,
            key_file=self.mqtt_key_file,
            username=self.mqtt_username or url_user,
            password=password,
        )

    # Loudspeaker terminal health (warnengine/devices). Terminals re-publish status every 30 s by default.
    terminal_offline_after_s: float = 90.0  # a terminal silent this long is marked offline and reported
    terminal_sweep_interval_s: float = 10.0
    # Issue 18: a terminal offline this long pages its 专人 (devices.csv responsible_id), warning or not.
    terminal_page_after_s: float = 6 * 3600.0
    # Link tests: a silent `test` command to every terminal and a canary per SMS/voice/WeChat/push provider
    # this often (the leader's timer); a terminal that has not answered within link_test_answer_s is stale.
    link_test_interval_s: float = 24 * 3600.0
    link_test_answer_s: float = 60.0
    link_stale_after_s: float = 36 * 3600.0  # no success for this long (one daily round missed): stale

    # Dispatcher API and console (warnengine/api). Bound to loopback by default: put TLS in front of it.
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_max_body_bytes: int = 1024 * 1024  # larger request bodies are refused with 413 before parsing
    api_max_upload_bytes: int = 200 * 1024 * 1024  # a directory upload (all its files) in the console
    api_session_ttl_s: float = 12 * 3600  # a console session lasts one duty shift
    api_login_max_failures: int = 5  # per user name and per address within api_login_window_s: then 429
    api_login_window_s: float = 300.0
    # Failed logins per client address within api_login_window_s before 429 (api_login_max_failures then
    # limits each user name): high, so one user's mistakes never lock out colleagues behind the same address.
    api_login_max_failures_per_address: int = 50
    # Reverse proxies (IPs or CIDRs) whose X-Forwarded-For (last hop) names the client; JSON list in the
    # environment: WARNENGINE_API_TRUSTED_PROXIES='["10.0.0.5"]'. Empty: X-Forwarded-For is ignored.
    api_trusted_proxies: list[str] = Field(default_factory=list)
    # Field-report photos (issue 17): kept as files under <data_dir>/field_reports/<sha256>, not in rows.
    field_report_photo_max_bytes: int = 4 * 1024 * 1024  # a phone's JPEG; larger is refused (413)
    field_report_max_photos: int = 4  # per report; a fifth is refused (409)
    api_policy_file: Path = Path("config/approval.yaml")  # who may release what without a second approval
    api_templates_file: Path = Path("config/warning_templates.yaml")  # drafts can start from these
