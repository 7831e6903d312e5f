/// A region of pixels with the same colour label, with the statistics the shape tests need.
struct Component {
    var label: UInt8
    /// Pixels of the region.
    var area = 0
    var minX = Int.max, maxX = Int.min, minY = Int.max, maxY = Int.min
    var sumX = 0, sumY = 0
    /// Pixels covered by the region's row spans (leftmost to rightmost member of each row). The world's shapes are
    /// convex, so for a clean shape this equals `area`; for a speckled or porous one it is the outline the eye sees.
    var spanArea = 0
    /// Span pixels whose centre lies below the bounding box's horizontal midline, counting those on it as half (×2 to
    /// stay an integer).
    var doubledBottomSpanCount = 0

    var width: Int { maxX - minX + 1 }
    var height: Int { maxY - minY + 1 }
    /// Centroid in pixel units (pixel centres at +0.5).
    var centerX: Double { Double(sumX) / Double(area) + 0.5 }
    var centerY: Double { Double(sumY) / Double(area) + 0.5 }
}

enum ConnectedComponents {
    /// Regions of equal non-zero label, found by flood fill with an explicit stack. Two pixels of one label belong to
    /// the same region when they lie within `reach` pixels of each other in both directions (Chebyshev distance):
    /// `reach` 1 is 8-connectivity; 2 also bridges one-pixel gaps, which joins the fragments of a speckled shape
    /// while shapes drawn with a gap of two pixels or more stay apart.
    static func find(labels: [UInt8], width: Int, height: Int, reach: Int = 1) -> [Component] {
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
                        for ny in max(0, y - reach)...min(height - 1, y + reach) {
                            for nx in max(0, x - reach)...min(width - 1, x + reach) {
                                let q = ny * width + nx
                                if !visited[q], labels[q] == label { visited[q] = true; stack.append(q) }
                            }
                        }
                    }
                    measureSpans(&component, members: members, width: width)
                    components.append(component)
                }
            }
        }
        return components
    }

    /// Fills `spanArea` and the bottom-half count from each row's leftmost and rightmost member.
    private static func measureSpans(_ component: inout Component, members: [Int], width: Int) {
        var left = [Int](repeating: Int.max, count: component.height)
        var right = [Int](repeating: Int.min, count: component.height)
        for p in members {
            let row = p / width - component.minY, x = p % width
            left[row] = min(left[row], x)
            right[row] = max(right[row], x)
        }
        // Midline test in doubled coordinates: pixel centre 2y + 1 against 2·minY + height.
        let doubledMid = 2 * component.minY + component.height
        for row in 0..<component.height where left[row] <= right[row] {
            let span = right[row] - left[row] + 1
            let doubledY = 2 * (component.minY + row) + 1
            component.spanArea += span
            component.doubledBottomSpanCount += doubledY > doubledMid ? 2 * span : doubledY == doubledMid ? span : 0
        }
    }
}
