import torch

from llm.losses import preference_loss

torch.manual_seed(0)
vocab, batch, length = 50, 8, 12
policy = torch.nn.Sequential(torch.nn.Embedding(vocab, 32), torch.nn.Linear(32, vocab))
reference = torch.nn.Sequential(torch.nn.Embedding(vocab, 32), torch.nn.Linear(32, vocab))
reference.load_state_dict(policy.state_dict())      # π_ref: the frozen starting point
reference.requires_grad_(False)
optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-2)


def sequence_logps(model, tokens):
    """Summed log-probability of each sequence's tokens after the first (the response)."""
    logps = model(tokens[:, :-1]).log_softmax(-1)
    return logps.gather(-1, tokens[:, 1:, None]).squeeze(-1).sum(-1)


chosen = torch.randint(vocab, (batch, length))        # token ids: prompt + chosen response
rejected = torch.randint(vocab, (batch, length))      # prompt + rejected response
with torch.no_grad():                                 # π_ref's log-probs, computed once
    ref_chosen = sequence_logps(reference, chosen)
    ref_rejected = sequence_logps(reference, rejected)

for _ in range(20):
    losses, statistic = preference_loss(
        sequence_logps(policy, chosen), sequence_logps(policy, rejected),
        ref_chosen, ref_rejected,
        beta=0.1, psi="identity", f="js", form="per_response")   # JS-IUPO
    optimizer.zero_grad()
    losses.mean().backward()
    optimizer.step()
print(f"loss {losses.mean().item():.3f}, mean statistic {statistic.mean().item():.2f} "
      f"(IUPO's target 1/(2β) = 5)")
