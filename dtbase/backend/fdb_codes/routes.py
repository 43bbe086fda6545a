from __future__ import annotations

from fastapi import APIRouter

from dtbase.backend.routing import protected_router

router: APIRouter = protected_router(prefix="/fdb", tags=["fdb"])
