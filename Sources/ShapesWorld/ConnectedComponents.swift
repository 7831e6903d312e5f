/// A 4-connected region of pixels with the same colour label, with the statistics the shape tests need.
struct Component {
    var label: UInt8
    var area = 0
    var minX = Int.max, maxX = Int.min, minY = Int.max, maxY = Int.min
    var sumX = 0, sumY = 0
    /// Pixels whose centre lies below the bounding box's horizontal midline, counting those on it as half (×2 to
    /// stay an integer).
    var doubledBottomCount = 0

    var width: Int { maxX - minX + 1 }
    var height: Int { maxY - minY + 1 }
    /// Centroid in pixel units (pixel centres at +0.5).
    var centerX: Double { Double(sumX) / Double(area) + 0.5 }
    var centerY: Double { Double(sumY) / Double(area) + 0.5 }
}

enum ConnectedComponents {
    /// Regions of equal non-zero label (4-connectivity), found by flood fill with an explicit stack.
    static func find(labels: [UInt8], width: Int, height: Int) -> [Component] {
        var components: [Component] = []
        var visited = [Bool](repeating: false, count: labels.count)
        var stack: [Int] = []
        var members: [Int] = []
        stack.reserveCapacity(labels.count)
        members.reserveCapacity(labels.count)
        labels.withUnsafeBufferPointer { labels in
            visited.withUnsafeMutableBufferPointer { visited in
                for start in 0..<labels.count where labels[start] != 0 && !visited[start] {
                    let label = labels[start]
                    var component = Component(label: label)
                    members.removeAll(keepingCapacity: true)
                    visited[start] = true
                    stack.append(start)
                    while let p = stack.popLast() {
                        members.append(p)
                        let x = p % width, y = p / width
                        component.area += 1
                        component.sumX += x
                        component.sumY += y
                        component.minX = min(component.minX, x)
                        component.maxX = max(component.maxX, x)
                        component.minY = min(component.minY, y)
                        component.maxY = max(component.maxY, y)
                        if x > 0, !visited[p - 1], labels[p - 1] == label { visited[p - 1] = true; stack.append(p - 1) }
                        if x + 1 < width, !visited[p + 1], labels[p + 1] == label { visited[p + 1] = true; stack.append(p + 1) }
                        if y > 0, !visited[p - width], labels[p - width] == label { visited[p - width] = true; stack.append(p - width) }
                        if y + 1 < height, !visited[p + width], labels[p + width] == label { visited[p + width] = true; stack.append(p + width) }
                    }
                    // Midline test in doubled coordinates: pixel centre 2y + 1 against 2·minY + height.
                    let doubledMid = 2 * component.minY + component.height
                    for p in members {
                        let doubledY = 2 * (p / width) + 1
                        component.doubledBottomCount += doubledY > doubledMid ? 2 : doubledY == doubledMid ? 1 : 0
                    }
                    components.append(component)
                }
            }
        }
        return components
    }
}
