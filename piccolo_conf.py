"""Piccolo's configuration: the engine DATABASE_URL names, and the registry of the four apps."""

from piccolo.conf.apps import AppRegistry

from database import make_engine
from settings import get_settings

DB = make_engine(get_settings())

# Order follows the foreign keys: facilitators <- sessions <- case_studies; mail stands alone.
APP_REGISTRY = AppRegistry(
    apps=[
        "facilitators.piccolo_app",
        "sessions.piccolo_app",
        "case_studies.piccolo_app",
        "mail.piccolo_app",
    ]
)
