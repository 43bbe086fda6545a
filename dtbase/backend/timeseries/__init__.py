"""Time series shared by sensor readings and model values: bulk ingest (`ingest`, with
foreign keys checked once per request, `foreign_keys`) and streamed reads (`streaming`).
The readings' own reads, export and downsampling are in `sensors.readings`, their
rollups in `sensors.rollups`.

Storage choices
---------------
* **One table per kind of series, typed value columns.** Readings live in `sensor_reading`
  and model values in `model_value`, each with one nullable column per datatype
  (`value_float`, `value_integer`, `value_string`, `value_boolean`; a CHECK says exactly one
  is set). The datatype belongs to the measure, so the column is known before a query
  runs: one write path, one index and one query per read, and the unused columns
  cost one bit each in the null bitmap. DTBase's one table per datatype needed four of all.
* **Primary key (sensor_id, measure_id, timestamp)**, in that order. It is the only index:
  a read of one sensor's measure over a window is one range scan of the key, already in
  timestamp order (no sort, no second index to maintain at ingest). Leading with sensor_id
  makes the table distributable by sensor (Citus `create_distributed_table('sensor_reading',
  'sensor_id')`): every statement here filters or groups on one sensor, so it runs on one
  shard. Model values use (product_id, timestamp) the same way.
* **Foreign keys kept** from readings to their sensor and measure, so they guard every
  way in, direct SQL and COPY by a research team included. Checked row by row they are
  most of what an insert costs PostgreSQL (a COPY of 100,000 readings runs about 5 times
  faster without them), so the API's bulk writes check them once per request instead:
  the request's sensors and measures are locked as a per-row check would lock them,
  and the write itself runs in replica mode (`timeseries.foreign_keys`, with the
  conditions under which it steps aside). Triggers on these tables must be
  `ENABLE ALWAYS` to see those writes; a plain one turns the shortcut off.
* **Ingest** writes a request's rows in key order with one COPY when nothing stored can
  conflict with them (the usual case: newer readings), or else one INSERT ... ON CONFLICT
  (see `timeseries.ingest`): duplicates of a key are skipped (the first given stays), or
  overwrite with `overwrite=True` (the last given wins). A request is one transaction.
* **Reads** fetch the first 20,000 readings of a window with one plain query (binary
  protocol) in the request's transaction, so small reads cost one round trip; longer ones
  stream the rest from a server-side cursor, a chunk at a time, so the backend's memory
  is bounded by the chunk whatever the window.
* **Downsampling** groups by `date_bin` into buckets aligned on the Unix epoch, so buckets
  of one width are the same whatever window is asked for. Over raw rows that costs about
  1 ms per 1,000 readings (a year of a 1 Hz sensor is 30 million), so it reads
  **rollups** (`sensors.rollups`): count, sum, min, max and the first and last timestamps
  per bucket of 1 min, 10 min, 1 h and 1 day, in `sensor_reading_rollup`. A read whose
  bucket width is a multiple of a rollup width takes the whole rollup buckets inside its
  window (coarsest first) and the raw readings of the partial minutes at its edges, so
  the values are exactly those of the raw computation (averages of floats up to the
  rounding of a sum in another order) at a cost bounded by the number of points asked,
  not by the readings; `max_points` widths are rounded up to a rollup multiple for that.
  Why not maintain the rollups at ingest: an overwrite or delete cannot lower a max, and
  concurrent writers of one sensor would all update the same day's row (contention, and
  deadlocks across multi-series requests). Instead, statement-level triggers on
  `sensor_reading` record the ranges written in `sensor_reading_dirty` (a plain insert,
  a few rows per request, transparent to any writer, COPY included), and a read first
  recomputes the dirty buckets of its window from the raw rows. Rollups lead with
  sensor_id too, so they distribute with the readings. Deleting a sensor cascades to them.
"""
