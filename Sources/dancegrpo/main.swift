import Engine
let a = Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
print(a.matmul(a), Engine.sgemmProvider)
