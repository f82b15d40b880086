from fastapi import FastAPI


def create_sandbox_app() -> FastAPI:
    return FastAPI()
