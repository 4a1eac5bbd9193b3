"""Web app entry point (Hugging Face Spaces runs this file): `python app.py`.

Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default
127.0.0.1:7860; 0.0.0.0 on a Space). The page lives in beauty/app/.
"""

import logging

from beauty.app import serve

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve()
