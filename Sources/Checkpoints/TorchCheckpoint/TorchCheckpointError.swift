import Foundation

/// What a problem with a PyTorch checkpoint (`torch.save` output: `.pt`, `.pth`, `.bin`, `.ckpt`) is, with the file
/// named; the message adds the key, storage, pickle global or opcode offset, and what was expected against what was
/// found.
public struct TorchCheckpointError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
}
