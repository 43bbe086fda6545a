import pytest

# The helpers in tests/utils assert too: rewritten, their failures say what differed.
pytest.register_assert_rewrite("tests.utils")
