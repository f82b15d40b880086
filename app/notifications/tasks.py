from app.worker import celery_app  # noqa: F401
