/// DDPO's JPEG rewards: an image's size as a quality-95 JPEG in kilobytes (bytes / 1000, as DDPO divides).
/// Compressibility rewards small files (−size), incompressibility large ones (+size).
public enum JPEGSizeReward {
    public static func sizeInKilobytes(_ image: RGBImage, quality: Int = 95) throws -> Double {
        Double(try JPEGEncoder(quality: quality).encode(image).count) / 1000
    }

    public static func compressibility(_ image: RGBImage, quality: Int = 95) throws -> Double {
        -(try sizeInKilobytes(image, quality: quality))
    }

    public static func incompressibility(_ image: RGBImage, quality: Int = 95) throws -> Double {
        try sizeInKilobytes(image, quality: quality)
    }
}
