"""Every domain's tables, imported so that `Base.metadata` describes the whole schema."""

from dtbase.backend.db import Base
from dtbase.backend.users.tables import User

__all__ = ["Base", "User"]
