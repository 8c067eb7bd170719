-- wrk script: GET /api/machines/{id} over many devices. Environment: IDS_FILE (one id per line),
-- WARD_TOKEN (a bearer token).
local ids = {}
local counter = 0

function init(args)
  for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
  token = os.getenv("WARD_TOKEN")
  counter = math.random(#ids)
end

function request()
  counter = counter % #ids + 1
  return wrk.format("GET", "/api/machines/" .. ids[counter], {["Authorization"] = "Bearer " .. token})
end
