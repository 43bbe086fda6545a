from dtbase.cli import app

app(prog_name="dtbase")
