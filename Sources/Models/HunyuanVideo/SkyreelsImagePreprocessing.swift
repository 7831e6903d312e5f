import Engine
import Foundation

/// What `HunyuanSkyreelsImageToVideoPipeline` does to its first frame before the VAE: `VideoProcessor.preprocess(image,
/// height, width)` of an 8-bit RGB image. The target size is rounded down to a multiple of the VAE's spatial factor
/// (`get_default_height_width`), the image resized to it with PIL's Lanczos (`resize_mode="default"`: no crop, the
/// aspect ratio is not kept), then `x / 255 · 2 − 1`.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/image_processor.py#L566-L720
public enum SkyreelsImagePreprocessing {
    /// The size `preprocess` resizes to for a requested `height × width`.
    public static func targetSize(height: Int, width: Int, multiple: Int) -> (height: Int, width: Int) {
        (height - height % multiple, width - width % multiple)
    }

    /// Row-major `[height, width, 3]` bytes → pixels `[1, 3, H, W]` in [−1, 1] at
    /// ``targetSize(height:width:multiple:)``.
    public static func pixels(
        rgb: [UInt8], height: Int, width: Int, targetHeight: Int, targetWidth: Int, multiple: Int
    ) -> Tensor {
        precondition(rgb.count == height * width * 3, "\(rgb.count) bytes for \(height) × \(width) RGB pixels")
        let size = targetSize(height: targetHeight, width: targetWidth, multiple: multiple)
        precondition(size.height > 0 && size.width > 0, "an image size of \(targetHeight) × \(targetWidth) pixels")
        let resized = PILLanczosUInt8.resize(
            rgb, height: height, width: width, channels: 3, newHeight: size.height, newWidth: size.width)
        let values = resized.map { Float($0) / 255 * 2 - 1 }
        return Tensor(values, shape: [1, size.height, size.width, 3]).transposed([0, 3, 1, 2])
    }
}

extension HunyuanSkyreelsImageToVideoPipeline {
    /// ``SkyreelsImagePreprocessing/pixels(rgb:height:width:targetHeight:targetWidth:multiple:)`` at the VAE's factor.
    public func preprocess(rgb: [UInt8], height: Int, width: Int, targetHeight: Int, targetWidth: Int) -> Tensor {
        SkyreelsImagePreprocessing.pixels(
            rgb: rgb, height: height, width: width, targetHeight: targetHeight, targetWidth: targetWidth,
            multiple: spatialScale)
    }
}
