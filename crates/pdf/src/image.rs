//! Raster images placed on pages: 8-bit RGB or grayscale pixels, written
//! as Flate-compressed image XObjects.
//!
//! Owns turning decoded pixels (or encoded bytes, through the `image`
//! crate) into what a PDF image needs. It must not place images: pages do.

use crate::Error;

/// How the pixels of an [`Image`] are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorSpace {
    /// Three bytes per pixel, red, green, blue.
    Rgb,
    /// One byte per pixel, 0 black to 255 white.
    Gray,
}

impl ColorSpace {
    fn channels(self) -> usize {
        match self {
            ColorSpace::Rgb => 3,
            ColorSpace::Gray => 1,
        }
    }

    pub(crate) fn pdf_name(self) -> &'static str {
        match self {
            ColorSpace::Rgb => "DeviceRGB",
            ColorSpace::Gray => "DeviceGray",
        }
    }
}

/// An opaque raster, row by row from the top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    width: u32,
    height: u32,
    color: ColorSpace,
    pixels: Vec<u8>,
}

impl Image {
    /// Wraps raw pixels; the length must be `width * height * channels`.
    pub fn from_pixels(
        width: u32,
        height: u32,
        color: ColorSpace,
        pixels: Vec<u8>,
    ) -> Result<Self, Error> {
        let expected = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(color.channels()));
        if width == 0 || height == 0 || expected != Some(pixels.len()) {
            return Err(Error::InvalidImage(format!(
                "{width}x{height} {color:?} needs {expected:?} bytes, got {}",
                pixels.len()
            )));
        }
        Ok(Self {
            width,
            height,
            color,
            pixels,
        })
    }

    /// Decodes an encoded image (PNG, and whatever else the workspace's
    /// `image` features enable). Transparency is flattened onto white,
    /// which is what the page behind a report image is.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let decoded = image::load_from_memory(bytes)?;
        Ok(Self::from_dynamic(&decoded))
    }

    /// Converts an already decoded image, flattening alpha onto white.
    pub fn from_dynamic(source: &image::DynamicImage) -> Self {
        let (width, height) = (source.width(), source.height());
        let color = if source.color().has_color() {
            ColorSpace::Rgb
        } else {
            ColorSpace::Gray
        };
        let pixels = match (color, source.color().has_alpha()) {
            (ColorSpace::Rgb, false) => source.to_rgb8().into_raw(),
            (ColorSpace::Gray, false) => source.to_luma8().into_raw(),
            (ColorSpace::Rgb, true) => source
                .to_rgba8()
                .pixels()
                .flat_map(|p| {
                    let [r, g, b, a] = p.0;
                    [over_white(r, a), over_white(g, a), over_white(b, a)]
                })
                .collect(),
            (ColorSpace::Gray, true) => source
                .to_luma_alpha8()
                .pixels()
                .map(|p| over_white(p.0[0], p.0[1]))
                .collect(),
        };
        Self {
            width,
            height,
            color,
            pixels,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn color_space(&self) -> ColorSpace {
        self.color
    }

    pub(crate) fn pixels(&self) -> &[u8] {
        &self.pixels
    }
}

fn over_white(value: u8, alpha: u8) -> u8 {
    let (v, a) = (u32::from(value), u32::from(alpha));
    // v*a + 255*(255-a), divided by 255 with rounding; fits in u8.
    ((v * a + 255 * (255 - a) + 127) / 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_length_is_checked() {
        assert!(Image::from_pixels(2, 2, ColorSpace::Rgb, vec![0; 12]).is_ok());
        assert!(Image::from_pixels(2, 2, ColorSpace::Rgb, vec![0; 11]).is_err());
        assert!(Image::from_pixels(0, 2, ColorSpace::Gray, vec![]).is_err());
    }

    #[test]
    fn transparency_is_flattened_onto_white() {
        let rgba = image::RgbaImage::from_raw(2, 1, vec![0, 0, 0, 0, 10, 20, 30, 255])
            .expect("buffer size");
        let img = Image::from_dynamic(&image::DynamicImage::ImageRgba8(rgba));
        assert_eq!(img.color_space(), ColorSpace::Rgb);
        assert_eq!(img.pixels(), &[255, 255, 255, 10, 20, 30]);
    }

    #[test]
    fn garbage_bytes_are_an_error() {
        assert!(matches!(
            Image::decode(b"not an image"),
            Err(Error::Image(_))
        ));
    }
}
