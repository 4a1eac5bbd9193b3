"""Web app entry point (Hugging Face Spaces runs this file): `python app.py`.

Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default
127.0.0.1:7860; 0.0.0.0 on a Space). The UI lives in beauty/ui.py.
"""

import logging

from beauty.ui import QUEUE, build_demo, launch_kwargs

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

demo = build_demo()  # loads and warms up the model once, before the first visitor

if __name__ == "__main__":
    demo.queue(**QUEUE).launch(**launch_kwargs())
