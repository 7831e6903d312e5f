import Imaging

/// Clips of the moving-shapes world: the shapes of a still prompt laid out by ``ShapeRenderer`` on a canvas shortened
/// by the whole travel along the motion's axis, then moved `speed` pixels per frame, so every object stays inside the
/// frame from the first frame to the last.
public struct MovingShapeRenderer: Sendable {
    public let renderer: ShapeRenderer
    public let frames: Int
    /// Pixels per frame.
    public let speed: Int

    public init(renderer: ShapeRenderer = ShapeRenderer(), frames: Int = 5, speed: Int = 2) {
        self.renderer = renderer
        self.frames = frames
        self.speed = speed
    }

    /// Pixels every object travels from the first frame to the last.
    public var travel: Int { speed * (frames - 1) }

    /// The shapes of each frame.
    public func layout(_ prompt: MovingPrompt, seed: UInt64) throws -> [[PlacedShape]] {
        guard frames >= 2 else { throw MotionError.tooFewFrames(frames: frames) }
        var shortened = renderer.options
        shortened.size -= travel
        let start: [PlacedShape]
        do {
            start = try ShapeRenderer(options: shortened).layout(prompt.spec, seed: seed)
        } catch {
            throw MotionError.noRoomToMove(travel: travel, imageSize: renderer.options.size, prompt: prompt.text)
        }
        let (dx, dy) = prompt.direction.step
        // Objects moving left or up start at the far side of the shortened canvas.
        let offset = (x: dx < 0 ? travel : 0, y: dy < 0 ? travel : 0)
        return (0..<frames).map { t in
            start.map { shape in
                var moved = shape
                moved.x += offset.x + dx * speed * t
                moved.y += offset.y + dy * speed * t
                return moved
            }
        }
    }

    /// The clip's frames.
    public func render(_ prompt: MovingPrompt, seed: UInt64) throws -> [RGBImage] {
        try layout(prompt, seed: seed).map(renderer.render)
    }
}
