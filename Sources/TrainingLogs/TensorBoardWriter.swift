import Foundation

/// Writes TensorBoard event files (`events.out.tfevents.<time>.<host>`: TFRecord-framed `Event` protos) so that
/// `tensorboard --logdir RUN` shows a run's scalars and sample grids. Each record is flushed as written, so a killed
/// run keeps everything logged before it died.
///
/// Event fields used (tensorflow/core/util/event.proto, summary.proto): Event{1 wall_time, 2 step, 3 file_version,
/// 5 summary, 6 session_log}; Summary{1 value}; Summary.Value{1 tag, 2 simple_value, 4 image};
/// Summary.Image{1 height, 2 width, 3 colorspace, 4 encoded_image_string}; SessionLog{1 status}.
public final class TensorBoardWriter {
    public let file: URL
    private let handle: FileHandle

    /// Opens a new event file in `folder` (created if needed). `resumingAt`: the step a resumed run continues from;
    /// a SessionLog START at that step makes TensorBoard drop the earlier file's events from that step on, so the
    /// curves of a resumed run have no doubled stretch.
    public init(folder: URL, resumingAt step: Int? = nil) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        var name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host)"
        // Two writers opened within the same second (a quick resume) must not share a file.
        var n = 1
        while FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(n)"
            n += 1
        }
        file = folder.appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
        }
        handle = try FileHandle(forWritingTo: file)
        try write { event in
            event.double(1, Date().timeIntervalSince1970)
            event.string(3, "brain.Event:2")
        }
        if let step {
            try write { event in
                event.double(1, Date().timeIntervalSince1970)
                event.int64(2, Int64(step))
                event.message(6) { $0.int64(1, 1) }  // SessionLog.START
            }
        }
    }

    deinit { try? handle.close() }

    /// Scalars under their tags (e.g. "reward/shapes", "train/kl") at one step.
    public func addScalars(_ values: [(tag: String, value: Double)], step: Int) throws {
        guard !values.isEmpty else { return }
        try write { event in
            event.double(1, Date().timeIntervalSince1970)
            event.int64(2, Int64(step))
            event.message(5) { summary in
                for (tag, value) in values {
                    summary.message(1) { v in
                        v.string(1, tag)
                        v.float(2, Float(value))
                    }
                }
            }
        }
    }

    /// A PNG image (a sample grid) under `tag`.
    public func addImage(_ tag: String, png: Data, width: Int, height: Int, step: Int) throws {
        try write { event in
            event.double(1, Date().timeIntervalSince1970)
            event.int64(2, Int64(step))
            event.message(5) { summary in
                summary.message(1) { v in
                    v.string(1, tag)
                    v.message(4) { image in
                        image.int64(1, Int64(height))
                        image.int64(2, Int64(width))
                        image.int64(3, 3)  // RGB
                        image.lengthDelimited(4, Array(png))
                    }
                }
            }
        }
    }

    /// One TFRecord: length, masked CRC of the length, data, masked CRC of the data (all little-endian).
    private func write(_ build: (inout ProtobufWriter) -> Void) throws {
        var event = ProtobufWriter()
        build(&event)
        var record: [UInt8] = []
        let length = withUnsafeBytes(of: UInt64(event.bytes.count).littleEndian) { Array($0) }
        record += length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { record += $0 }
        record += event.bytes
        withUnsafeBytes(of: CRC32C.masked(event.bytes).littleEndian) { record += $0 }
        try handle.write(contentsOf: Data(record))
    }
}
