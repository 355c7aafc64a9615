

async def test_vote_passes(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    voters = [world.guild.add_member(world.env.create_user(f"voter{i}")) for i in range(4)]
    res = await world.friend.slash(world.channel, "vote add-time", duration="1h", reason="fun", window="10m")
    msg = res.response
    print(msg.embeds[0].to_dict())
    for v in voters[:3]:
        await v.react(msg.message, "✅")
    await voters[3].react(msg.message, "❌")
    await world.env.advance_time(5)
    print(world.channel.last_message.embeds[0].to_dict())
    await world.env.advance_time(600)
    print(world.channel.last_message.embeds[0].to_dict())
    print(lock.history)
