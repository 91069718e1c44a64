FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to load; these values exist only during the build.
RUN SECRET_KEY=build-only ALLOWED_HOSTS=build python manage.py collectstatic --noinput \
    && useradd --create-home labelhub && mkdir -p /data/media && chown labelhub /data/media
USER labelhub

EXPOSE 8000
# gthread workers keep telling the master they are alive while a thread streams a long export
# (a sync worker streaming a million records would be killed at --timeout).
CMD ["gunicorn", "labelhub.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", \
     "--worker-class", "gthread", "--threads", "4", "--timeout", "60", "--access-logfile", "-"]
