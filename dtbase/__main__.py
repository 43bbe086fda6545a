from dtbase.cli.main import app

app(prog_name="dtbase")
