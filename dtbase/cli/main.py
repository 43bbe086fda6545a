"""The `dtbase` command, assembled from one module per command group."""

from __future__ import annotations

import typer

from dtbase.cli import up
from dtbase.cli.db import db_app
from dtbase.cli.events import events_app
from dtbase.cli.mqtt import mqtt_app
from dtbase.cli.serve import serve_app, services_app
from dtbase.cli.users import user_app
from dtbase.fdb.commands import fdb_app

app = typer.Typer(help="dtbase: a forkable platform for digital twins.", no_args_is_help=True)
app.command()(up.up)
app.add_typer(serve_app, name="serve")
app.add_typer(services_app, name="services")
app.add_typer(fdb_app, name="fdb")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(mqtt_app, name="mqtt")
app.add_typer(events_app, name="events")
