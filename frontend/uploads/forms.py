"""The upload form: a CSV file, the measure of a `timestamp,value` file, and the choices."""

from __future__ import annotations

from wtforms import BooleanField, FileField, HiddenField, SelectField

from frontend.forms import Form


class UploadForm(Form):
    sensor = HiddenField()
    file = FileField("CSV file")
    measure = SelectField("Measure (for a timestamp,value file)", choices=[], validate_choice=False)
    skip_bad_lines = BooleanField("Skip bad lines (store the good ones)")
    overwrite = BooleanField("Overwrite readings already stored at the same times")
    dry_run = BooleanField("Only check the file (store nothing)")
