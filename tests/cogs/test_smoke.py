from tests.support.simcord import reply


async def test_link_then_status_then_add_time(world):
    lock, done = await world.link(title="Weekend Challenge", remaining=86400)
    print(reply(done).content)
    res = await world.owner.slash(world.channel, "chastify status")
    print(reply(res).embeds[0].to_dict())
    res = await world.owner.slash(world.channel, "lock add-time", duration="30m", reason="late")
    print(reply(res).embeds[0].to_dict())
    print(lock.history)
