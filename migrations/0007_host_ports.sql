-- Host ports that Compose releases publish: one per release and port, chosen
-- at plan time (the default port, or the next free one when it is taken) and
-- kept for the release's life, so upgrades never move a URL people use.
CREATE TABLE host_ports (
    platform   TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    release    TEXT NOT NULL,
    port_name  TEXT NOT NULL,
    host_port  INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, namespace, release, port_name),
    UNIQUE (platform, host_port)
);
