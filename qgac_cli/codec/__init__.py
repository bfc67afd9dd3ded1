"""Files in and out: JPEG files (`jpeg`), the quality of their tables (`quality`), which
metadata segment holds what (`metadata`), and the written outputs (`output`, `png`)."""
