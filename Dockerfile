# One image for web, worker and gpu-worker. On a Linux host pip's torch==2.13.0 wheel
# carries CUDA, so the same image trains on a GPU when the container is given one.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN useradd --create-home nasweb && mkdir -p /app/media && chown nasweb /app/media
USER nasweb
EXPOSE 8000
CMD ["python", "manage.py", "nas_serve", "--host", "0.0.0.0", "--port", "8000"]
