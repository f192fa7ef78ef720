"""Draw the brand images in custom_components/ems/brand/ (run once after changing the design).

Usage: python scripts/brand_images.py   (needs Pillow, which Home Assistant's venv has)
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND_DIR = Path(__file__).resolve().parent.parent / "custom_components" / "ems" / "brand"
TEAL = (0, 150, 136, 255)
AMBER = (255, 193, 7, 255)
WHITE = (255, 255, 255, 255)


def draw_icon(size: int) -> Image.Image:
    """A battery with a lightning bolt on a teal rounded square."""
    s = size / 256
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8 * s, 8 * s, 248 * s, 248 * s), radius=48 * s, fill=TEAL)
    # Battery body and terminal.
    draw.rounded_rectangle(
        (56 * s, 72 * s, 200 * s, 212 * s), radius=16 * s, outline=WHITE, width=round(12 * s)
    )
    draw.rounded_rectangle((100 * s, 48 * s, 156 * s, 76 * s), radius=6 * s, fill=WHITE)
    # Lightning bolt.
    bolt = [(138, 88), (90, 148), (124, 148), (112, 196), (166, 130), (132, 130), (146, 88)]
    draw.polygon([(x * s, y * s) for x, y in bolt], fill=AMBER)
    return image


def draw_logo(height: int) -> Image.Image:
    """The icon followed by the name, on a transparent background."""
    icon = draw_icon(height)
    # The same proportions at every size, so logo@2x is exactly twice logo.
    width = 666 * height // 256
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste(icon, (0, 0), icon)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=round(height * 0.55))
    draw.text((height * 1.1, height * 0.18), "EMS", font=font, fill=TEAL)
    return image


def main() -> None:
    """Write icon.png, icon@2x.png, logo.png and logo@2x.png."""
    BRAND_DIR.mkdir(parents=True, exist_ok=True)
    draw_icon(256).save(BRAND_DIR / "icon.png")
    draw_icon(512).save(BRAND_DIR / "icon@2x.png")
    draw_logo(256).save(BRAND_DIR / "logo.png")
    draw_logo(512).save(BRAND_DIR / "logo@2x.png")


if __name__ == "__main__":
    main()
